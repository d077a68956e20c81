-- string utilities: split, join, trim, startswith, replace
local function split(s, sep, plain)
  local out, start = {}, 1
  if sep == "" then for c in s:gmatch(".") do out[#out + 1] = c end return out end
  while true do
    local i, j = s:find(sep, start, plain)
    if not i then out[#out + 1] = s:sub(start); break end
    out[#out + 1] = s:sub(start, i - 1)
    start = j + 1
  end
  return out
end
local function join(t, sep) return table.concat(t, sep) end
local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
local function startswith(s, p) return s:sub(1, #p) == p end
local function endswith(s, p) return p == "" or s:sub(-#p) == p end
local function replace(s, old, new) return (s:gsub(old:gsub("%p", "%%%0"), (new:gsub("%%", "%%%%")))) end
local function show(t) local o = {} for i, v in ipairs(t) do o[i] = "<" .. v .. ">" end return table.concat(o) end
print(show(split("a,b,,c", ",", true)))
print(show(split("a.b.c", ".", true)), show(split("a.b.c", "%.")))
print(show(split("one  two   three", "%s+")))
print(show(split("", ",", true)), show(split("abc", "")))
print(show(split(",a,", ",", true)))
print(join(split("x-y-z", "-", true), "+"))
print("[" .. trim("   padded\t\n ") .. "]", "[" .. trim("") .. "]", "[" .. trim("none") .. "]")
print(startswith("prefix.rest", "prefix"), startswith("pre", "prefix"), endswith("file.lua", ".lua"), endswith("x", ""))
print(replace("1+1=2 and 1+1=2", "1+1", "one plus one"), replace("50%", "%", "%% percent"))
-- word wrap at width 20
local text = "the quick brown fox jumps over the lazy dog and keeps running far away"
local lines, line = {}, ""
for word in text:gmatch("%S+") do
  if #line + #word + 1 > 20 and #line > 0 then lines[#lines + 1] = line; line = word
  else line = (#line > 0) and (line .. " " .. word) or word end
end
lines[#lines + 1] = line
print(table.concat(lines, "\n"))
