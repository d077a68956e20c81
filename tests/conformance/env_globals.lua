-- _ENV and _G
x = 10
print(_G.x, _ENV.x, _G == _ENV, _G._G == _G)
_G.y = 20
print(y)
do
  local _ENV = {print = print}
  z = 5
  print(z, x)
end
print(z, rawget(_G, "z"))
-- function with its own _ENV as a parameter
local function with_env(_ENV) return a + b end
print(with_env({a = 1, b = 2}))
-- _ENV as upvalue of a closure
local function sandbox()
  local _ENV = setmetatable({}, {__index = _G})
  newglobal = "inside"
  return function() return newglobal end, _ENV
end
local getter, env = sandbox()
print(getter(), env.newglobal, newglobal)
-- load with custom env sees only that env
local f = load("v = (v or 0) + 1; return v", "c", "t", {})
print(f(), f())
-- setting global via _ENV field names that are keywords-ish
_ENV["not a name"] = "odd key"
print(_G["not a name"])
-- globals are just table fields
local count = 0
for k in pairs(_G) do if k == "x" or k == "y" then count = count + 1 end end
print(count)
-- undeclared globals are nil
print(undefined_thing, type(_G.undefined_thing))
-- _G can be replaced in _ENV without breaking access to the original
local saved_G = _G
do local _ENV = {_G = "fake", print = print} print(_G) end
print(saved_G == _G)
