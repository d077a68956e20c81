-- %q produces literals that load back to the same value
local samples = {
  "plain", "", "with \"quotes\" and 'apostrophes'", "back\\slash", "new\nline", "tab\tand\rcr",
  "\0zero\0", "\1\2\3\31\127", "\200\255 high bytes", "digits after escape: \0001\0012",
  string.rep("long ", 20),
}
local all_ok = true
for i, s in ipairs(samples) do
  local lit = string.format("%q", s)
  local back = load("return " .. lit)()
  if back ~= s then all_ok = false; print("mismatch", i) end
end
print("strings", all_ok)
local nums = {0, 1, -1, 42, math.maxinteger, math.mininteger, 0.5, -0.25, 1e100, 1/3, 2^53, -0.0, 1/0, -1/0}
all_ok = true
for i, n in ipairs(nums) do
  local lit = string.format("%q", n)
  local back = load("return " .. lit)()
  if back ~= n or math.type(back) ~= math.type(n) then all_ok = false; print("mismatch", i, lit) end
end
print("numbers", all_ok)
print(string.format("%q", 0/0))
print(string.format("%q", "a\nb"), string.format("%q", "\0009"))
print(string.format("%q", math.mininteger), string.format("%q", 255), string.format("%q", -0.0))
print(pcall(string.format, "%q", print))
print(string.format("%q", true), string.format("%q", nil), string.format("%q", false))
print(pcall(string.format, "%10q", "x"))
