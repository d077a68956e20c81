-- <const> and <close> local attributes
local x <const> = 10
local y <const>, z = 20, 30
print(x, y, z)
print(load("local a <const> = 1; a = 2"))
print(load("local a <foo> = 1"))
print(load("local a <close>, b <close> = 1, 2"))
local log = {}
local function closer(name)
  return setmetatable({}, {__close = function(_, err)
    log[#log + 1] = name .. ":" .. tostring(err)
  end})
end
do
  local a <close> = closer("a")
  local b <close> = closer("b")
  local c <close> = nil
  local d <close> = false
  log[#log + 1] = "body"
end
print(table.concat(log, " "))
log = {}
local ok, err = pcall(function()
  local a <close> = closer("a")
  error("boom", 0)
end)
print(ok, err, table.concat(log, " "))
log = {}
local function f()
  local a <close> = closer("ret")
  return "value"
end
print(f(), table.concat(log, " "))
log = {}
for i = 1, 3 do
  local c <close> = closer("it" .. i)
  if i == 2 then break end
end
print(table.concat(log, " "))
print(pcall(function() local a <close> = 42 end))
print(pcall(function() local a <close> = {} end))
-- error inside __close replaces the error
print(pcall(function()
  local a <close> = setmetatable({}, {__close = function() error("in close", 0) end})
  error("original", 0)
end))
