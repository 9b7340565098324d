-- wrk script for scripts/bench-peers.sh: one fixed POST with client_secret_basic and a form
-- body given on the command line, e.g. a client_credentials grant or an introspection:
--   wrk -t2 -c32 -d10s --latency -s bench/wrk_post.lua URL -- ID SECRET 'grant_type=client_credentials'
-- Prints the "HABANERO_WRK {json}" line of wrk_report.lua at the end; a 4xx/5xx answer is
-- counted in its errors.status.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "wrk_token.lua")  -- base64 client authentication, done() of wrk_report.lua

local tokenInit = init

function init(args)
  tokenInit(args)
  if args[3] then wrk.body = args[3] end
end
