-- kv-cache: the cache of cache.lua as a service speaking the Redis
-- protocol (RESP2) over TCP, one task per connection.
--
--   understudy run examples/kv-cache/main.lua [--host 127.0.0.1] [--port 6380]
--                                             [--janitor-interval 1]
--
-- `--port 0` picks a free port; the address is printed on the first line
-- of output either way ("kv-cache listening on HOST:PORT").

local dir = arg and arg[0] and arg[0]:match("^(.*)[/\\]") or "."
package.path = dir .. "/?.lua;" .. package.path
local Cache = require("cache")

local options = { host = "127.0.0.1", port = "6380", ["janitor-interval"] = "1" }
do
  local i = 1
  while i <= #arg do
    local name = arg[i]:match("^%-%-(.+)$")
    if not name or options[name] == nil or arg[i + 1] == nil then
      io.stderr:write("usage: main.lua [--host H] [--port P] [--janitor-interval SECONDS]\n")
      os.exit(2)
    end
    options[name] = arg[i + 1]
    i = i + 2
  end
end

local cache = Cache.new()
cache:start_janitor(tonumber(options["janitor-interval"]))

-- RESP replies --------------------------------------------------------

local OK, PONG, NIL = "+OK\r\n", "+PONG\r\n", "$-1\r\n"
local format = string.format

local function bulk(s)
  return format("$%d\r\n%s\r\n", #s, s)
end

local function int(n)
  return format(":%d\r\n", n)
end

local function err(msg)
  return "-ERR " .. msg .. "\r\n"
end

local function array(items)
  local out = { format("*%d\r\n", #items) }
  for i, s in ipairs(items) do out[i + 1] = bulk(s) end
  return table.concat(out)
end

local function arity_error(name)
  return err(format("wrong number of arguments for '%s' command", name))
end

-- Commands ----------------------------------------------------------------

-- Each command: { handler, min args, max args (nil: any) } counting the
-- command name. A handler returns the reply and whether to close after it.
local commands = {}

local function command(name, min, max, handler)
  commands[name] = { handler, min, max }
end

command("ping", 1, 2, function(a)
  if a[2] then return bulk(a[2]) end
  return PONG
end)

command("echo", 2, 2, function(a) return bulk(a[2]) end)

command("get", 2, 2, function(a)
  local v = cache:get(a[2])
  if v == nil then return NIL end
  return bulk(v)
end)

command("set", 3, nil, function(a)
  local ttl, nx, xx = nil, false, false
  local i = 4
  while a[i] do
    local opt = a[i]:upper()
    if (opt == "EX" or opt == "PX") and a[i + 1] then
      local n = math.tointeger(tonumber(a[i + 1]))
      if not n or n <= 0 then return err("invalid expire time in 'set' command") end
      ttl = opt == "EX" and n or n / 1000
      i = i + 2
    elseif opt == "NX" then nx = true; i = i + 1
    elseif opt == "XX" then xx = true; i = i + 1
    else
      return err("syntax error")
    end
  end
  if nx and xx then return err("syntax error") end
  local exists = cache:exists(a[2])
  if (nx and exists) or (xx and not exists) then return NIL end
  cache:set(a[2], a[3], ttl)
  return OK
end)

command("del", 2, nil, function(a)
  local n = 0
  for i = 2, #a do
    if cache:delete(a[i]) then n = n + 1 end
  end
  return int(n)
end)

command("exists", 2, nil, function(a)
  local n = 0
  for i = 2, #a do
    if cache:exists(a[i]) then n = n + 1 end
  end
  return int(n)
end)

local function incr_by(key, delta)
  local n, msg = cache:incr(key, delta)
  if not n then return err(msg) end
  return int(n)
end

local function integer_arg(s)
  local n = math.tointeger(tonumber(s))
  if n == nil or tostring(n) ~= s then return nil end
  return n
end

command("incr", 2, 2, function(a) return incr_by(a[2], 1) end)
command("decr", 2, 2, function(a) return incr_by(a[2], -1) end)
command("incrby", 3, 3, function(a)
  local n = integer_arg(a[3])
  if not n then return err("value is not an integer or out of range") end
  return incr_by(a[2], n)
end)
command("decrby", 3, 3, function(a)
  local n = integer_arg(a[3])
  if not n or n == math.mininteger then
    return err("value is not an integer or out of range")
  end
  return incr_by(a[2], -n)
end)

local function expire(a, scale)
  local n = integer_arg(a[3])
  if not n then return err("value is not an integer or out of range") end
  if n <= 0 then
    return int(cache:delete(a[2]) and 1 or 0)
  end
  return int(cache:expire(a[2], n * scale) and 1 or 0)
end

command("expire", 3, 3, function(a) return expire(a, 1) end)
command("pexpire", 3, 3, function(a) return expire(a, 0.001) end)

local function ttl(a, scale)
  local left = cache:ttl(a[2])
  if left == nil then return int(-2) end
  if left == false then return int(-1) end
  return int(math.floor(left * scale + 0.5))
end

command("ttl", 2, 2, function(a) return ttl(a, 1) end)
command("pttl", 2, 2, function(a) return ttl(a, 1000) end)
command("persist", 2, 2, function(a)
  if cache:ttl(a[2]) then
    cache.deadlines[a[2]] = nil
    return int(1)
  end
  return int(0)
end)

command("dbsize", 1, 1, function() return int(cache:count()) end)

local function flush() cache:flush() return OK end
command("flushall", 1, 2, flush)
command("flushdb", 1, 2, flush)

command("info", 1, 2, function()
  return bulk(table.concat({
    "# Server",
    "redis_version:7.0.0",
    "understudy_example:kv-cache",
    "tcp_port:" .. options.port,
    "uptime_in_seconds:" .. math.floor(task.now()),
    "# Keyspace",
    format("db0:keys=%d,expires=0,avg_ttl=0", cache:count()),
    "",
  }, "\r\n"))
end)

-- Enough of COMMAND and CONFIG GET for redis-cli and redis-benchmark.
command("command", 1, nil, function() return "*0\r\n" end)

command("config", 2, nil, function(a)
  if a[2]:lower() ~= "get" or not a[3] then
    return err("CONFIG supports GET only")
  end
  local known = { save = "", appendonly = "no", databases = "1" }
  local out = {}
  for i = 3, #a do
    local k = a[i]:lower()
    if known[k] then
      out[#out + 1] = k
      out[#out + 1] = known[k]
    end
  end
  return array(out)
end)

command("select", 2, 2, function(a)
  if a[2] ~= "0" then return err("DB index is out of range") end
  return OK
end)

command("client", 2, nil, function() return OK end)

command("quit", 1, 1, function() return OK, true end)

local function dispatch(a)
  local name = a[1]:lower()
  local c = commands[name]
  if not c then
    return err(format("unknown command '%s'", a[1]:sub(1, 64)))
  end
  if #a < c[2] or (c[3] and #a > c[3]) then
    return arity_error(name)
  end
  return c[1](a)
end

-- The protocol ------------------------------------------------------------

local MAX_ARGS = 1024 * 1024
local MAX_BULK = 512 * 1024 * 1024

-- Reads one command: an array of bulk strings, or an inline command (a
-- line of words, as typed into telnet). Returns the argument list, or nil
-- and "closed", or nil, "protocol" and what was wrong.
local function read_command(conn)
  local line, e = conn:read_line()
  if not line then return nil, e end
  if line:byte(1) ~= 42 then -- not '*': inline
    local args = {}
    for word in line:gmatch("%S+") do args[#args + 1] = word end
    return args
  end
  local n = math.tointeger(tonumber(line:sub(2)))
  if not n or n > MAX_ARGS then return nil, "protocol", "invalid multibulk length" end
  local args = {}
  for i = 1, n do
    local header = conn:read_line()
    if not header then return nil, "closed" end
    if header:byte(1) ~= 36 then -- '$'
      return nil, "protocol", format("expected '$', got '%s'", header:sub(1, 1))
    end
    local len = math.tointeger(tonumber(header:sub(2)))
    if not len or len < 0 or len > MAX_BULK then
      return nil, "protocol", "invalid bulk length"
    end
    local data = conn:read_exact(len + 2)
    if not data then return nil, "closed" end
    if data:sub(-2) ~= "\r\n" then
      return nil, "protocol", "bulk string not terminated by CRLF"
    end
    args[i] = data:sub(1, len)
  end
  return args
end

local function serve(conn)
  while true do
    local args, problem, detail = read_command(conn)
    if not args then
      if problem == "protocol" then
        -- As Redis does: say what was wrong, then close.
        conn:write(err("Protocol error: " .. detail))
      end
      break
    end
    if #args > 0 then
      local reply, close_after = dispatch(args)
      if not conn:write(reply) or close_after then break end
    end
  end
  conn:close()
end

local listener = assert(net.listen(options.host .. ":" .. options.port))
print("kv-cache listening on " .. listener:addr())
io.stdout:flush()
while true do
  local conn, e = listener:accept()
  if conn then
    task.spawn(serve, conn)
  else
    -- (After a failover the old primary may still hold the port for a
    -- moment: retry, without spinning.)
    io.stderr:write("accept failed: ", e, "\n")
    task.sleep(0.1)
  end
end
