-- print, select, type
print()
print(nil)
print(1, nil, 3)
print("a", "b", "c")
print(true, false, 1.5, -0, "")
print(type(nil), type(true), type(1), type(1.5), type("s"), type({}), type(print), type(type), type(coroutine.create(print)))
print(pcall(type))
print(select("#"), select("#", nil), select("#", 1, 2, 3))
print(select(1, "a", "b"), select(2, "a", "b"), select(3, "a", "b"))
print(select(-1, "a", "b", "c"), select(-3, "a", "b", "c"))
print(pcall(select, -4, "a", "b", "c"))
print(pcall(select, "x"))
print(select(2.0, "a", "b"))
print(pcall(select, 1.5, "a"))
print(select("#", select(2, 1, 2, 3)))
-- print calls tostring on each argument (including __tostring and __name)
local t = setmetatable({}, {__tostring = function() return "custom" end})
print(t, 1, t)
-- print with embedded zero bytes and long strings
print("a\0b")
print(string.rep("x", 100))
print(10 / 2, 3 // 1, 2^53, -2^63, math.mininteger)
-- print does not call the global tostring (5.4 uses luaL_tolstring)
local saved = tostring
tostring = function() return "GLOBAL TOSTRING" end
print(1, "two", nil)
tostring = saved
print(tostring(3))
