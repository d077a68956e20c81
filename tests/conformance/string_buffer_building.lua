-- building strings incrementally: concatenation, table buffers, rep and format
local parts = {}
for i = 1, 1000 do parts[#parts + 1] = tostring(i) end
local s = table.concat(parts, ",")
print(#s, s:sub(1, 15), s:sub(-15))
local acc = ""
for i = 1, 200 do acc = acc .. string.char(65 + i % 26) end
print(#acc, acc:sub(1, 30))
-- nested buffers and string.format
local lines = {}
for row = 1, 5 do
  local cells = {}
  for col = 1, 5 do cells[#cells + 1] = string.format("%3d", row * col) end
  lines[#lines + 1] = table.concat(cells, "|")
end
print(table.concat(lines, "\n"))
-- escaping builder
local function escape(str) return (str:gsub("[%c\"\\]", function(c) return string.format("\\%03d", c:byte()) end)) end
print(escape('a"b\\c\n\t'))
-- string.rep for padding
local function pad(str, w) return str .. string.rep(".", w - #str) end
print(pad("name", 10) .. "|", pad("longername", 10) .. "|")
-- building with gsub accumulation
local count = 0
local text = string.rep("word ", 100)
local rebuilt = text:gsub("%w+", function(w) count = count + 1; return w:upper() end)
print(#rebuilt, count, rebuilt:sub(1, 14))
-- large string via doubling
local big = "x"
for _ = 1, 16 do big = big .. big end
print(#big, big:find("y"))
-- string.format of many values into a buffer
local buf = {}
for i = 1, 10 do buf[#buf + 1] = ("%02d:%5.2f"):format(i, i / 3) end
print(table.concat(buf, " "))
