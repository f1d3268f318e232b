-- GET /api/v1/persons/{id}: ids drawn uniformly from 1..BENCH_MAX_ID (the
-- demo data numbers persons 1..N). The session cookie comes with -H.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local max_id

function init(args)
   seed_random()
   max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1000")
end

function request()
   return wrk.format("GET", "/api/v1/persons/" .. math.random(1, max_id))
end
