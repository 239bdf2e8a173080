-- booking-rush: a virtual user lists 5 FREE seats of a random row of event 1, creates a booking and selects
-- the first seat listed. wrk has no per-connection state, so each request carries its context in its
-- x-request-id (the platform echoes a sane one back): L-<user> on the listing, B-<user>-<seat> on the
-- booking; each answer queues the next step (per wrk thread), which any connection of the thread sends.
-- BENCH.auths ("Basic …|Basic …"), BENCH.rows and BENCH.event come from bench/scenarios/booking-rush.ts.
local auths = {}
for auth in string.gmatch(BENCH.auths, '[^|]+') do auths[#auths + 1] = auth end
local rows = BENCH.rows or 1000
local event = BENCH.event or 1
local pageSize = BENCH.pageSize or 5

-- Each thread has its own Lua state: seed from the clock and this state's table address.
math.randomseed(os.time() + tonumber(tostring({}):match('0x(%x+)') or '0', 16) % 1000003)

local books, selects = {}, {}

function request()
  local s = table.remove(selects)
  if s then
    return wrk.format('PATCH', '/api/seats/select', {
      ['authorization'] = auths[s.user],
      ['content-type'] = 'application/json',
      ['x-request-id'] = 'S-' .. s.user,
    }, '{"booking_id":' .. s.booking .. ',"seat_id":' .. s.seat .. '}')
  end
  local b = table.remove(books)
  if b then
    return wrk.format('POST', '/api/bookings', {
      ['authorization'] = auths[b.user],
      ['content-type'] = 'application/json',
      ['x-request-id'] = 'B-' .. b.user .. '-' .. b.seat,
    }, '{"event_id":' .. event .. '}')
  end
  local user = math.random(#auths)
  return wrk.format('GET',
    '/api/seats?event_id=' .. event .. '&row=' .. math.random(rows) .. '&status=FREE&pageSize=' .. pageSize,
    { ['authorization'] = auths[user], ['x-request-id'] = 'L-' .. user })
end

function response(status, headers, body)
  local id = headers['x-request-id']
  if not id then return end
  local kind = id:sub(1, 1)
  if kind == 'L' and status == 200 then
    local seat = body:match('"id":(%d+)')
    if seat then books[#books + 1] = { user = tonumber(id:sub(3)), seat = seat } end
  elseif kind == 'B' and status == 201 then
    local user, seat = id:match('^B%-(%d+)%-(%d+)$')
    local booking = body:match('"id":(%d+)')
    if booking then selects[#selects + 1] = { user = tonumber(user), booking = booking, seat = seat } end
  end
end
