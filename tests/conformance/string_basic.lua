-- basic string functions
local s = "Hello, World"
print(string.len(s), #s, s:len())
print(s:sub(1, 5), s:sub(-5), s:sub(-5, -2), s:sub(8), s:sub(0), s:sub(5, 3), s:sub(-100, 2), s:sub(3, 100))
print(s:sub(2, -2), s:sub(-1, -1), ("abc"):sub(4), ("abc"):sub(3, 3), ("abc"):sub(math.mininteger, math.maxinteger))
print(s:upper(), s:lower(), ("MiXeD 123"):lower())
print(("ab"):rep(3), ("ab"):rep(3, "-"), ("x"):rep(0), ("x"):rep(-1), ("x"):rep(1, "sep"), (""):rep(5))
print(s:reverse(), (""):reverse(), ("a"):reverse())
print(s:byte(), s:byte(1), s:byte(-1), s:byte(1, 3), s:byte(100))
print(select("#", s:byte(1, 0)), select("#", s:byte(1, -1)))
print(string.char(72, 105), string.char(), string.char(0, 255):byte(1, 2))
print(pcall(string.char, -1))
print(pcall(string.char, "x"))
print(("%d"):rep(2), ("\0"):rep(3):len())
-- strings are immutable values
local a = "text"
local b = a:upper()
print(a, b)
-- string indexing via the metatable
print(("abc").upper == string.upper, pcall(function() return ("abc").nosuch() end))
-- numbers as string arguments
print(string.len(12345), string.upper(1.5), string.rep(7, 2))
print(string.byte("A"), string.char(string.byte("xyz", 1, -1)))
-- large rep
local big = ("abc"):rep(10000, ",")
print(#big, big:sub(1, 11), big:sub(-7))
