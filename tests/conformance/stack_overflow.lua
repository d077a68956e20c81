-- infinite recursion raises a catchable "stack overflow" error
local function inf(n) return 1 + inf(n + 1) end
local ok, msg = pcall(inf, 1)
print(ok, type(msg), string.find(msg, "stack overflow", 1, true) ~= nil)
-- the interpreter is usable afterwards
local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end
print(f(10000))
-- overflow through metamethod recursion
local t = setmetatable({}, {})
getmetatable(t).__index = function(tbl, k) return tbl[k .. "x"] end
local ok2, msg2 = pcall(function() return t.a end)
print(ok2, string.find(msg2, "stack overflow", 1, true) ~= nil)
-- overflow in a coroutine is reported by resume
local co = coroutine.create(function() return inf(1) end)
local ok3, msg3 = coroutine.resume(co)
print(ok3, string.find(msg3, "stack overflow", 1, true) ~= nil, coroutine.status(co))
