-- debug.traceback: only structural properties are checked
print(type(debug.traceback()))
local tb = debug.traceback("msg")
print(tb:sub(1, #"msg\nstack traceback:") == "msg\nstack traceback:")
print(debug.traceback(12):match("^12\nstack traceback:") ~= nil, type(debug.traceback(nil)))
local t = {}
print(debug.traceback(t) == t)
local function inner() return debug.traceback("in inner", 1) end
print(inner():match("^in inner\nstack traceback:\n") ~= nil)
-- traceback as xpcall handler
local ok, msg = xpcall(function() error("problem") end, debug.traceback)
print(ok, msg:match("^debug_traceback%.lua:%d+: problem\nstack traceback:") ~= nil)
