-- floating point for loops
for x = 0, 1, 0.25 do io.write(x, " ") end print()
for x = 1, 0, -0.5 do io.write(tostring(x), " ") end print()
for x = 0.1, 0.5, 0.1 do io.write(string.format("%.1f ", x)) end print()
local n = 0
for x = 1.0, 3 do n = n + 1; io.write(math.type(x), " ") end print(n)
n = 0
for _ = 0, 1, 0.1 do n = n + 1 end
print(n)
print(pcall(function() for _ = 1, 2, 0.0 do end end))
for x = 1, 2, 1.5 do io.write(tostring(x), " ") end print()
-- infinite bounds
n = 0
for x = 1, math.huge, 1e300 do n = n + 1; if n > 5 then break end end
print(n)
n = 0
for x = 0.0, -1 do n = n + 1 end
print(n)
-- integer start with float step yields floats
for x = 1, 2, 0.5 do io.write(tostring(x), " ") end print()
-- accumulation error visible
local last
for x = 0, 0.3, 0.1 do last = x end
print(string.format("%.17g", last))
