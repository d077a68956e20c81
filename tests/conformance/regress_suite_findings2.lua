-- More regressions found with the official Lua test suite.
-- integer loops accept numeric-string limits; out-of-range float limits
for i = 1, "3.5" do io.write(i, " ") end print()
local n = 0
for i = math.mininteger, -10e100 do n = n + 1; if n > 3 then break end end
print(n)
-- __name names the type in operator errors
local XX = setmetatable({}, {__name = "My Type"})
print(pcall(function() return XX + 1 end))
print(pcall(function() return XX < XX end))
print(pcall(function() return {} < XX end))
-- unbounded nesting of coroutine resumes is a catchable error
local depth = 0
local a; a = function() depth = depth + 1; coroutine.wrap(a)() end
local ok, err = pcall(a)
print(ok, err:match("C stack overflow") ~= nil, depth > 100)
-- functions print as functions
print((tostring(print):gsub("0x%x+", "ADDR")))
-- io.output(name) redirects io.write
local name = os.tmpname()
io.output(name); io.write("hello"); io.close(io.output()); io.output(io.stdout)
local f = io.open(name); print(f:read("a")); f:close(); os.remove(name)
-- a library function called by another is named with its table
print(pcall(table.sort, {1, 2, 3}, table.sort))
print(math.deg(math.pi), math.rad(180) == math.pi, type(warn), type(io.flush))
