-- debug.getinfo: the commonly used fields (source, lines, names, parameters)
local function f(a, b, ...) return debug.getinfo(1, "nSlu") end
local info = f()
print(info.what, info.short_src, info.source, info.linedefined, info.lastlinedefined, info.currentline)
print(info.nparams, info.isvararg, info.nups)
print(debug.getinfo(1, "l").currentline, debug.getinfo(1, "S").what)
local c = debug.getinfo(print)
print(c.what, c.short_src, c.source, c.currentline, c.linedefined)
print(debug.getinfo(100), pcall(debug.getinfo, 1, ">"))
-- level 2 is the caller
local function callee() local i = debug.getinfo(2, "l") return i.currentline end
print(callee())
-- function names as seen from the call site
local t = {}
function t.method() return debug.getinfo(1, "n") end
local n = t.method()
print(n.name, n.namewhat)
local function localfn() return debug.getinfo(1, "n") end
n = localfn()
print(n.name, n.namewhat)
globalfn = function() return debug.getinfo(1, "n") end
n = globalfn()
print(n.name, n.namewhat)
-- func field refers to the function itself
print(debug.getinfo(f, "f").func == f, debug.getinfo(1, "f").func ~= nil)
-- main chunk
local m = debug.getinfo(1, "S")
print(m.what, m.linedefined)
