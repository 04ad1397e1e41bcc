-- wrk script: POST /v1/events with BATCH events per request (env BATCH, default 1) of platform
-- PLATFORM (default tmall). Every event
-- id is unique; buyer messages and agent replies alternate within each conversation, so rounds
-- open and close as in real traffic.
local batch = tonumber(os.getenv("BATCH") or "1")
local platform = os.getenv("PLATFORM") or "tmall"
local threads = 0
local counter = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function one_event()
  counter = counter + 1
  local conversation = math.floor(counter / 2)
  local kind = (counter % 2 == 1) and "buyer_message" or "agent_message"
  return string.format(
    '{"id":"t%d-%d","platform":"%s","shop":"shop%d","type":"%s","conversation":"c%d-%d","ts":%d}',
    tid, counter, platform, conversation % 50, kind, tid, conversation, os.time() * 1000)
end

function request()
  local body
  if batch == 1 then
    body = one_event()
  else
    local events = {}
    for i = 1, batch do events[i] = one_event() end
    body = "[" .. table.concat(events, ",") .. "]"
  end
  return wrk.format("POST", "/v1/events", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
