-- GET of paths read from the file BENCH_PATHS (one per line, URL-encoded),
-- one drawn at random per request: the searches by ID number and by name
-- fragment, the town list, the dashboard, and nginx's static file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local reqs

function init(args)
   seed_random()
   reqs = load_requests(os.getenv("BENCH_PATHS"))
end

function request()
   return reqs[math.random(1, #reqs)]
end
