-- load with strings, reader functions, chunk names, modes and environments
local f = load("return 1 + 2")
print(f())
print(load("syntax error here"))
print(load("return ...", "=varargs")(4, 5))
-- chunk names
print(pcall(load("error('x')", "=custom")))
print(pcall(load("error('x')", "@file.lua")))
print(pcall(load("error('x')")))
print(pcall(load("\n\nerror('line3')", "=multi")))
print(load("x =", "=named"))
print(load("x =", "a long chunk name that goes on and on and on and on and on and on"))
-- reader function
local parts = {"return ", "'pie", "ce'", " .. ", "'s'"}
local i = 0
print(load(function() i = i + 1; return parts[i] end)())
-- reader returning empty string ends the chunk
local done = false
print(load(function() if done then return "" end done = true return "return 7" end)())
-- reader returning non-string
local r, rmsg = load(function() return {} end)
print(r, rmsg:find("reader function must return a string", 1, true) ~= nil)
-- env parameter
local env = {y = 5}
local g = load("x = 10; return y", "env", "t", env)
print(g(), env.x, x)
print(load("return print", "e", "t", {})())
-- mode
print(load("return 1", "m", "b"))
print(load("return 1", "m", "t")())
-- load returns function whose upvalue _ENV is the global table by default
_G.global_from_test = "visible"
print(load("return global_from_test")())
-- load of chunk with varargs and local functions
local h = load([[
  local a, b = ...
  local function sq(v) return v * v end
  return sq(a) + sq(b)
]])
print(h(3, 4))
-- string.dump / load of binary chunks are not tested
print(pcall(load))
print(load("return 1", nil, nil, nil)())
print(type(load("")), load("")())
