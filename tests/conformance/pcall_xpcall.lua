-- pcall and xpcall
print(pcall(function(...) return ... end, 1, 2, 3))
print(pcall(function() end))
print(select("#", pcall(function() end)))
print(pcall(pcall))
print(pcall(42))
print(xpcall(function() return "fine", 2 end, print))
print(xpcall(function() error("oops") end, function(m) return "handled: " .. m end))
print(xpcall(function(a, b) return a + b end, print, 3, 4))
print(xpcall(function() error({}) end, function(m) return type(m) end))
-- error in message handler
print(xpcall(function() error("a") end, function(m) error("b") end))
-- handler receives the original object and can add traceback
local ok, msg = xpcall(function() error("with tb") end, debug.traceback)
print(ok, msg:match("^[^\n]*"), msg:find("stack traceback:", 1, true) ~= nil)
-- nested pcall inside xpcall
print(xpcall(function()
  local ok2, m2 = pcall(error, "inner", 0)
  return "after inner: " .. m2
end, print))
-- pcall returns false + error for runtime errors in called functions
local function div(a, b) if b == 0 then error("division by zero", 2) end return a / b end
print(pcall(div, 1, 0))
print(pcall(div, 1, 2))
-- xpcall with non-function handler is allowed until error happens
print(pcall(xpcall, function() return 1 end, nil))
-- deeply nested pcalls
local function nest(n) if n == 0 then error("bottom", 0) end return pcall(nest, n - 1) end
print(nest(50))
-- error objects pass through unchanged
local obj = {}
local _, got = pcall(error, obj)
print(got == obj)
