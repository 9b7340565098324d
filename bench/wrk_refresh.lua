-- wrk script for scripts/bench-peers.sh: refresh_token grants with rotation.
--   wrk -t2 -c32 -d10s --latency -s bench/wrk_refresh.lua URL -- ID SECRET TOKEN_FILE THREADS
-- TOKEN_FILE holds one refresh token per line (at least as many as connections; each from its
-- own authorization, made by `loadgen seed`). Thread i of THREADS takes lines i, i+THREADS, ….
-- Every request spends one token from the thread's pool; every 200 answer puts the rotated
-- refresh_token it carries back, so each connection follows its own chain of rotations and
-- no token is presented twice. A failed refresh loses its chain (and counts in
-- errors.status); an empty pool sends a token no server issued, which fails visibly
-- without touching a live chain (a spent one would revoke its family). wrk itself spends
-- one token of the first thread when it calls request() once to inspect it: give each
-- thread one token more than its connections.
-- Client authentication: client_secret_basic, as in wrk_post.lua.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_token.lua")

local tokenInit = init
local threadIndex = 0

function setup(thread)
  thread:set("thread_index", threadIndex)
  threadIndex = threadIndex + 1
end

local function formEncode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

local pool = {}
local prefix

function init(args)
  tokenInit(args)
  local file, threads = args[3], tonumber(args[4] or "1")
  local index = thread_index or 0
  local n = 0
  for line in io.lines(file) do
    if line ~= "" then
      if n % threads == index then pool[#pool + 1] = line end
      n = n + 1
    end
  end
  prefix = "grant_type=refresh_token&refresh_token="
end

function request()
  local token = table.remove(pool) or "pool-empty-no-such-token"
  return wrk.format(nil, nil, nil, prefix .. formEncode(token))
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then pool[#pool + 1] = token end
  end
end
