-- rawget, rawset, rawequal, rawlen
local mt = {
  __index = function() return "meta" end,
  __newindex = function() error("blocked") end,
  __eq = function() return true end,
  __len = function() return 99 end,
}
local a = setmetatable({}, mt)
local b = setmetatable({}, mt)
print(a.x, rawget(a, "x"))
print(pcall(function() a.y = 1 end))
print(rawset(a, "y", 1) == a, a.y, rawget(a, "y"))
print(a == b, rawequal(a, b), rawequal(a, a), rawequal(1, 1.0), rawequal("x", "x"))
print(#a, rawlen(a), rawlen({1, 2, 3}), rawlen("four"))
print(pcall(rawget, "str", 1))
print(pcall(rawset, {}, nil, 1))
print(pcall(rawset, {}, 0/0, 1))
print(pcall(rawlen, nil))
print(pcall(rawequal, 1))
print(rawget({10, 20}, 2), rawget({}, "none"), rawget({[1.0] = "one"}, 1))
local t = {}
rawset(t, 2.0, "two")
print(t[2], math.type(next(t)))
