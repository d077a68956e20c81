-- string.gmatch
local words = {}
for w in ("one two  three\tfour"):gmatch("%S+") do words[#words + 1] = w end
print(#words, table.concat(words, "|"))
for k, v in ("a=1, b=2, c=3"):gmatch("(%w+)=(%w+)") do io.write(k, "->", v, " ") end print()
for pos in ("abcabc"):gmatch("()b") do io.write(pos, " ") end print()
local count = 0
for _ in ("aaa"):gmatch("") do count = count + 1 end
print(count)
for m in ("abc"):gmatch(".-") do io.write("[", m, "]") end print()
-- '^' has no anchoring meaning in gmatch: it is matched literally
for m in ("aaa"):gmatch("^a") do io.write(m, ";") end print()
for m in ("^a^a"):gmatch("^a") do io.write(m, ";") end print()
-- init argument (5.4)
for m in ("one two three"):gmatch("%a+", 5) do io.write(m, ";") end print()
for m in ("one two three"):gmatch("%a+", -5) do io.write(m, ";") end print()
-- iterator captured and called manually
local it = ("x1y2z3"):gmatch("%a(%d)")
print(it(), it(), it(), it())
-- splitting with empty fields
local fields = {}
for f in ("a,,b,"):gmatch("([^,]*)") do fields[#fields + 1] = "<" .. f .. ">" end
print(table.concat(fields))
-- numbers
local sum = 0
for n in ("10 20 -5 3.5"):gmatch("%-?%d+%.?%d*") do sum = sum + tonumber(n) end
print(sum)
