-- __metatable field protects metatables
local mt = {__metatable = "locked", __index = {x = 1}}
local t = setmetatable({}, mt)
print(getmetatable(t), t.x)
print(pcall(setmetatable, t, {}))
print(pcall(setmetatable, t, nil))
-- __metatable can be any value, including false
local f = setmetatable({}, {__metatable = false})
print(getmetatable(f))
-- strings share a metatable whose __index is string
print(getmetatable("").__index == string, getmetatable("a") == getmetatable("b"))
-- setmetatable returns the table and accepts nil to remove
local u = {}
print(setmetatable(u, nil) == u, getmetatable(u))
local m2 = {}
setmetatable(u, m2)
print(getmetatable(u) == m2)
setmetatable(u, nil)
print(getmetatable(u))
print(pcall(setmetatable, 1, {}))
print(pcall(setmetatable, {}, 1))
print(pcall(setmetatable, {}))
print(getmetatable(1), getmetatable(nil), getmetatable(print))
