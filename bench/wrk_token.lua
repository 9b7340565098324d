-- wrk script for scripts/bench.sh: the token endpoint under load. Every request is
--   POST /token  grant_type=client_credentials&scope=read
-- authenticated with client_secret_basic (RFC 6749 §2.3.1: id and secret form-urlencoded,
-- then "id:secret" in base64), for a confidential client registered with ES256 JWT access
-- tokens (the default `--token-format jwt`). Client id and secret come as script arguments:
--   wrk -t2 -c32 -d10s --latency -s bench/wrk_token.lua http://127.0.0.1:PORT/token -- ID SECRET
-- At the end it prints the "HABANERO_WRK {json}" line of bench/wrk_report.lua; a failed
-- grant (4xx/5xx) is counted in its errors.status. There is no response() hook, so wrk
-- does not hand every body to Lua (scripts/bench.sh checks one response with curl first).

-- done() comes from wrk_report.lua next to this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_report.lua")

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1) ..
      (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

-- application/x-www-form-urlencoded: everything but ALPHA DIGIT - . _ ~ as %XX.
local function formEncode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

function init(args)
  local id, secret = args[1], args[2]
  if not id or not secret then
    error("usage: wrk ... -s wrk_token.lua URL -- CLIENT_ID CLIENT_SECRET")
  end
  wrk.method = "POST"
  wrk.body = "grant_type=client_credentials&scope=read"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Authorization"] =
    "Basic " .. base64(formEncode(id) .. ":" .. formEncode(secret))
  -- wrk.init, which called this, then builds the one fixed request from these fields.
end
