-- Measures string handling: concatenation, table.concat, string.format, gsub, find and rep.
local N = tonumber(arg and arg[1]) or 300000
local checksum = 0
local function mix(s) checksum = (checksum * 31 + #s + s:byte(1) + s:byte(-1)) % 1000000007 end
-- 1. Repeated concatenation of short pieces into medium strings.
for i = 1, N // 20 do
  local s = ""
  for j = 1, 20 do s = s .. j .. "," end
  mix(s .. i)
end
-- 2. Buffer building with table.concat.
local parts = {}
for i = 1, N do parts[#parts + 1] = "item" .. i end
local joined = table.concat(parts, ";")
mix(joined)
-- 3. string.format with mixed specifiers.
local fmt = {}
for i = 1, N do fmt[i] = string.format("%5d|%-8s|%8.3f|%x", i, "k" .. (i % 97), i / 7, i) end
mix(table.concat(fmt, "\n"))
-- 4. gsub with patterns, captures and function replacements.
local text = string.rep("The quick brown fox jumps over the lazy dog. ", N // 40)
local upper = text:gsub("%a+", function(w) return #w > 3 and w:upper() or w end)
mix(upper)
local swapped = text:gsub("(%a+) (%a+)", "%2 %1")
mix(swapped)
local count = select(2, text:gsub("o", "0"))
checksum = (checksum + count) % 1000000007
-- 5. find/sub/match scanning over a large string.
local pos, words = 1, 0
while true do
  local s, e = joined:find("item%d+", pos)
  if not s then break end
  words = words + 1
  pos = e + 1
end
checksum = (checksum + words) % 1000000007
for k, v in ("a=1,b=22,c=333,d=4444"):rep(N // 100):gmatch("(%a)=(%d+)") do checksum = (checksum + #k + tonumber(v)) % 1000000007 end
-- 6. rep, reverse, upper/lower, byte/char round trips.
for i = 1, N // 10 do
  local s = ("ab" .. i):rep(5):reverse():upper():lower()
  local b1, b2 = s:byte(1, 2)
  mix(s .. string.char(b1, b2))
end
print(checksum)
