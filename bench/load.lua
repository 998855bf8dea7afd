-- wrk script for one page of the clinic (bench/run.py passes the arguments after "--").
--
--   wrk ... -H "Cookie: ..." -H "User-Agent: ..." -s bench/load.lua URL -- EXPECT [BODY_FILE PATHS NONCE]
--
-- EXPECT is the one status that counts as success: 200 for a page, 302 for a form post
-- (Post/Redirect/Get). wrk itself only counts statuses above 399 as errors, which would take a
-- redirect to the sign-in page for a success; every other status is counted here instead.
--
-- With BODY_FILE the request is a form POST: the body's __SUBMISSION_KEY__ is replaced by a key
-- unique to this request (the app stores one entry per key, so a repeated key would be a no-op),
-- and PATHS (comma separated) are the URLs posted to, in turn, so that the posts spread over
-- several sessions as they would in a clinic instead of queueing on one session's row lock.

local expected = 200
local body_template = nil
local paths = {}
local nonce = "0"
local counter = 0
local built = nil

-- Globals, not locals: setup() writes thread_id into each thread, done() reads unexpected back.
thread_id = 0
unexpected = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  expected = tonumber(args[1]) or 200
  if args[2] and args[2] ~= "" then
    local file = assert(io.open(args[2], "r"))
    body_template = file:read("*a")
    file:close()
    for path in string.gmatch(args[3], "[^,]+") do
      table.insert(paths, path)
    end
    nonce = args[4] or "0"
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  else
    built = wrk.format()
  end
end

function request()
  if built then
    return built
  end
  counter = counter + 1
  local key = string.format("bench-%s-%d-%d", nonce, thread_id, counter)
  local body = string.gsub(body_template, "__SUBMISSION_KEY__", key)
  return wrk.format(nil, paths[(counter % #paths) + 1], nil, body)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  elseif status == 302 then
    -- A redirect to the sign-in page is a refusal dressed as a success.
    local location = headers["Location"] or headers["location"] or ""
    if string.find(location, "/login", 1, true) then
      unexpected = unexpected + 1
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("unexpected") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "unexpected_status": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status_over_399": %d, "timeout": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max
  ))
end
