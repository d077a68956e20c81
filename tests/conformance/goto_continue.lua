-- goto used as continue in all kinds of loops
local out = {}
for i = 1, 6 do
  if i % 2 == 0 then goto continue end
  out[#out + 1] = i
  ::continue::
end
print(table.concat(out, ","))
out = {}
local i = 0
while i < 6 do
  i = i + 1
  if i == 3 then goto continue end
  out[#out + 1] = i
  ::continue::
end
print(table.concat(out, ","))
out = {}
i = 0
repeat
  i = i + 1
  if i == 2 then goto continue end
  out[#out + 1] = i
  ::continue::
until i >= 4
print(table.concat(out, ","))
out = {}
for _, w in ipairs({"a", "", "b", "", "c"}) do
  if w == "" then goto next_word end
  out[#out + 1] = w:upper()
  ::next_word::
end
print(table.concat(out, ","))
-- backward goto forming a loop with a counter
local n, acc = 5, 1
::loop::
if n > 1 then acc = acc * n; n = n - 1; goto loop end
print(acc)
