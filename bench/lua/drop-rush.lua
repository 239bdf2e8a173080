-- drop-rush: checkout with a random user and a random item; a 200 answer's code is bought by the
-- connection's next request (a queue per wrk thread: wrk has no per-connection state). Runs until the
-- sale is sold out and beyond, where every checkout is a 409 (the storm).
-- BENCH.items (default 10000) and BENCH.users (default 1000000) come from bench/scenarios/drop-rush.ts.
local items = (BENCH and BENCH.items) or 10000
local users = (BENCH and BENCH.users) or 1000000
local random = math.random

-- Each thread has its own Lua state: seed from the clock and this state's table address.
math.randomseed(os.time() + tonumber(tostring({}):match('0x(%x+)') or '0', 16) % 1000003)

-- The request line and headers built once; each request only splices in its query (wrk.format would
-- rebuild the header block in Lua every time, and on a small machine the load generator's CPU is the
-- server's loss). The bytes sent are the same as wrk.format's.
local tail
local function suffix()
  if not tail then
    local headers = ''
    for name, value in pairs(wrk.headers) do headers = headers .. name .. ': ' .. value .. '\r\n' end
    tail = ' HTTP/1.1\r\n' .. headers .. '\r\n'
  end
  return tail
end

local codes = {}
local pending = 0

function request()
  if pending > 0 then
    local code = codes[pending]
    codes[pending] = nil
    pending = pending - 1
    return 'POST /purchase?code=' .. code .. suffix()
  end
  return 'POST /checkout?user_id=' .. random(1, users) .. '&id=' .. random(0, items - 1) .. suffix()
end

function response(status, headers, body)
  -- A checkout's 200 body is the 36-character code; a purchase's is "OK".
  if status == 200 and #body == 36 then
    pending = pending + 1
    codes[pending] = body
  end
end
