-- repeat-until: the condition sees locals declared in the body
local i = 0
repeat
  local j = i * 2
  i = i + 1
until j >= 6
print(i)
local n = 0
repeat n = n + 1 until n == 5
print(n)
-- break inside repeat
local k = 0
repeat
  k = k + 1
  if k == 3 then break end
until false
print(k)
-- closure capturing body local used in condition
local fs = {}
local c = 0
repeat
  local v = c
  fs[#fs + 1] = function() return v end
  c = c + 1
until v == 2
print(#fs, fs[1](), fs[2](), fs[3]())
-- nested repeat
local out = {}
local a = 0
repeat
  local b = 0
  repeat
    out[#out + 1] = a .. b
    b = b + 1
  until b > 1
  a = a + 1
until a > 2
print(table.concat(out, " "))
