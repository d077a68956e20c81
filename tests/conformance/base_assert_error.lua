-- assert
print(assert(1, "unused"), assert("v", 2, 3))
print(select("#", assert(true, nil, nil)))
print(pcall(assert, false))
print(pcall(assert, nil, "custom message"))
print(pcall(assert, false, 42))
local ok, e = pcall(assert, false, {k = "table message"})
print(ok, type(e), e.k)
print(pcall(assert))
print(pcall(assert, 0), pcall(assert, ""))
-- assert raises like error(msg, 1): position of the Lua caller is added to string messages
print(pcall(function() assert(false, "no position") end))
print(pcall(function() assert(1 == 2) end))
-- error() with levels vs assert
print(pcall(function() error("with position") end))
-- typical usage pattern
local function checked_div(a, b)
  assert(type(a) == "number", "a must be a number")
  assert(b ~= 0, "division by zero")
  return a / b
end
print(pcall(checked_div, 1, 0))
print(pcall(checked_div, "x", 1))
print(pcall(checked_div, 6, 3))
