-- POST /api/v1/requests: a request (诉求) registered for a random person of
-- 1..BENCH_MAX_ID, with the channel, category and urgency codes given in
-- BENCH_CHANNEL, BENCH_CATEGORY, BENCH_URGENCY. Cookie, X-CSRF-Token and
-- Content-Type come with -H.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local max_id, channel, category, urgency
local contents = {
   "咨询退役士兵一次性经济补助的发放标准和时间",
   "反映定期抚恤金本月未到账",
   "希望推荐适合退役军人的就业岗位",
   "咨询优待证申领条件和办理地点",
}

function init(args)
   seed_random()
   max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1000")
   channel = os.getenv("BENCH_CHANNEL") or "2"
   category = os.getenv("BENCH_CATEGORY") or "1"
   urgency = os.getenv("BENCH_URGENCY") or "1"
end

function request()
   local body = string.format(
      '{"channel":"%s","category":"%s","urgency":"%s","person_id":%d,"content":"%s"}',
      channel, category, urgency, math.random(1, max_id), contents[math.random(1, #contents)])
   return wrk.format("POST", "/api/v1/requests", nil, body)
end
