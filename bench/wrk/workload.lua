-- wrk script for bench/run.sh: builds every request itself, so that each carries its own
-- X-Forwarded-For (a random public IPv4 address by default: the server trusts loopback as a
-- proxy, so the rate limiter sees a large client population), and prints one machine-readable
-- summary line ("BENCH_RESULT ...") at the end.
--
-- Configured by environment variables, read when the script is loaded: wrk calls request() once
-- in its main Lua state to count the requests per write, before any init() runs, so settings
-- passed through init(args) would be missed there.
--   BENCH_MODE         get | post | mixed | fill                             (default get)
--   BENCH_PATH         the key path for get                                  (/bench/get0)
--   BENCH_KEY_PREFIX   key path prefix for post, mixed and fill              (/bench/k)
--   BENCH_KEYS         post/mixed pick a key in 0..BENCH_KEYS-1; fill writes each once (100000)
--   BENCH_VALUE_BYTES  size of a POST body                                   (200)
--   BENCH_GET_PERCENT  mixed: share of GETs, the rest are POSTs              (90)
--   BENCH_PIPELINE     requests per write (wrk waits for all their answers)  (1)
--   BENCH_CLIENT       "random", or one fixed X-Forwarded-For value          (random)
-- fill: writes keys 0, 1, 2, ... in order (wrapping) and, once BENCH_KEYS + 256 answers arrived
-- (so every key was written, even with the last requests still in flight), prints
-- "BENCH_FILL answers=N bad=M" (M: answers other than 200) and stops sending. wrk itself runs
-- on until -d is over: run.sh interrupts it (SIGINT) when that line appears.
-- Headers given to wrk with -H (e.g. "Connection: close") are added to every request.

local mode = os.getenv("BENCH_MODE") or "get"
local get_path = os.getenv("BENCH_PATH") or "/bench/get0"
local prefix = os.getenv("BENCH_KEY_PREFIX") or "/bench/k"
local keys = tonumber(os.getenv("BENCH_KEYS") or "100000")
local value_bytes = tonumber(os.getenv("BENCH_VALUE_BYTES") or "200")
local get_percent = tonumber(os.getenv("BENCH_GET_PERCENT") or "90")
local pipeline = tonumber(os.getenv("BENCH_PIPELINE") or "1")
local client = os.getenv("BENCH_CLIENT") or "random"

local random = math.random
math.randomseed(os.time() + math.floor(os.clock() * 1e6))

local host = wrk.host
if wrk.port then host = host .. ":" .. wrk.port end
-- Every header line but the request line, X-Forwarded-For and the body framing.
local common = "Host: " .. host .. "\r\n"
for name, value in pairs(wrk.headers) do
  if name:lower() ~= "host" then common = common .. name .. ": " .. value .. "\r\n" end
end
local body = string.rep("v", value_bytes)
local post_tail = "Content-Length: " .. value_bytes .. "\r\n\r\n" .. body

-- A random unicast IPv4 address outside loopback, private and other special blocks (so the
-- server's right-to-left walk over trusted proxies stops at it).
local function forwarded_for()
  if client ~= "random" then return client end
  local a
  repeat
    a = random(1, 223)
  until a ~= 10 and a ~= 100 and a ~= 127 and a ~= 169 and a ~= 172 and a ~= 192 and a ~= 198
  return a .. "." .. random(0, 255) .. "." .. random(0, 255) .. "." .. random(1, 254)
end

local function get(path)
  return "GET " .. path .. " HTTP/1.1\r\n" .. common .. "X-Forwarded-For: " .. forwarded_for() ..
      "\r\n\r\n"
end

local function post(path)
  return "POST " .. path .. " HTTP/1.1\r\n" .. common .. "X-Forwarded-For: " .. forwarded_for() ..
      "\r\n" .. post_tail
end

local next_key = 0

local function one()
  if mode == "get" then
    return get(get_path)
  elseif mode == "post" then
    return post(prefix .. random(0, keys - 1))
  elseif mode == "mixed" then
    local path = prefix .. random(0, keys - 1)
    if random(1, 100) <= get_percent then return get(path) end
    return post(path)
  elseif mode == "fill" then
    local path = prefix .. next_key
    next_key = (next_key + 1) % keys
    return post(path)
  end
  error("unknown BENCH_MODE " .. mode)
end

if pipeline <= 1 then
  request = one
else
  request = function()
    local parts = {}
    for i = 1, pipeline do parts[i] = one() end
    return table.concat(parts)
  end
end

if mode == "fill" then
  local answers, bad = 0, 0
  response = function(status, headers, response_body)
    answers = answers + 1
    if status ~= 200 then bad = bad + 1 end
    if answers >= keys + 256 then
      -- printed once: answers already in flight still arrive after stop()
      if answers == keys + 256 then
        io.write(string.format("BENCH_FILL answers=%d bad=%d\n", answers, bad))
        io.flush()
      end
      wrk.thread:stop()
    end
  end
end

-- Percentiles over the recorded latency buckets. (latency:percentile can return 0 after wrk's
-- coordinated-omission correction adds samples below the recorded minimum, which happens when
-- a pipelined batch takes longer than the mean interval between requests; otherwise the two
-- agree.) Latency is per write: per batch of BENCH_PIPELINE requests.
local function percentile(latency, p)
  local n, total = #latency, 0
  for i = 1, n do
    local _, count = latency(i)
    total = total + count
  end
  local rank, seen = math.ceil(p / 100 * total), 0
  for i = 1, n do
    local value, count = latency(i)
    seen = seen + count
    if seen >= rank then return value end
  end
  return 0
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, percentile(latency, 50), percentile(latency, 99),
      latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
