-- concatenation of numbers uses tostring-style formatting
print(1 .. 2, 1.5 .. "", -0.0 .. "", 2^63 .. "", 10 // 1 .. "", 10 / 1 .. "")
print(1e100 .. "", 0.1 .. "", -1 .. "", math.mininteger .. "", 1/0 .. "", -1/0 .. "")
print("x" .. 1 .. 2.0 .. "y", 3 .. 4 .. 5)
print(#(1 .. ""), #(1.0 .. ""))
local n = 7
print("n=" .. n, "half=" .. n / 2, "idiv=" .. n // 2)
print(pcall(function() return 1 .. nil end))
print(pcall(function() return 1 .. {} end))
-- long concatenation chains
local s = ""
for i = 1, 10 do s = s .. i .. (i < 10 and "," or "") end
print(s)
print(("a"):rep(3) .. 1 .. ("b"):rep(2))
