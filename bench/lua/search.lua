-- search: GET a random one of the scenario's search paths as a random seeded user (HTTP Basic).
-- BENCH.paths (space-separated, URL-encoded) and BENCH.auths (comma-separated base64 email:password)
-- come from bench/scenarios/search.ts.
local paths, auths = {}, {}
for path in string.gmatch(BENCH.paths, '%S+') do paths[#paths + 1] = path end
for auth in string.gmatch(BENCH.auths, '[^,]+') do auths[#auths + 1] = 'Basic ' .. auth end

-- Each thread has its own Lua state: seed from the clock and this state's table address.
math.randomseed(os.time() + tonumber(tostring({}):match('0x(%x+)') or '0', 16) % 1000003)

function request()
  return wrk.format('GET', paths[math.random(#paths)], { ['authorization'] = auths[math.random(#auths)] })
end
