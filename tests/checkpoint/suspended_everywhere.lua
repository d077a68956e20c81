-- Coroutines suspended inside pcall, inside a sort comparator and inside
-- a gsub callback; upvalues shared between them; a to-be-closed variable.
local log = {}
local function say(...) log[#log + 1] = table.concat({...}, " ") print(...) end

local in_pcall = coroutine.create(function(a)
  local ok, v = pcall(function()
    local x = coroutine.yield("in pcall " .. a)
    error("boom " .. x)
  end)
  say("pcall returned", tostring(ok), v:match("boom %w+"))
  return "done"
end)
say(select(2, coroutine.resume(in_pcall, 1)))

local cmp_calls = 0
local sorter = coroutine.wrap(function(t)
  table.sort(t, function(a, b)
    cmp_calls = cmp_calls + 1
    if cmp_calls % 7 == 0 then coroutine.yield(cmp_calls) end
    return a < b
  end)
  return table.concat(t, ",")
end)
local data = {}
for i = 1, 30 do data[i] = (i * 37) % 31 end
local r = sorter(data)
while type(r) == "number" do r = sorter() end
say("sorted", r)

local subst = coroutine.wrap(function(s)
  return (s:gsub("%a+", function(w)
    return coroutine.yield(w):upper()
  end))
end)
local word = subst("one two three")
while true do
  local nxt = subst(word .. "!")
  if nxt:find(" ") then say("gsub", nxt) break end
  word = nxt
end

say(select(2, coroutine.resume(in_pcall, "late")))

do
  local closer <close> = setmetatable({}, { __close = function() say("closed") end })
  local t = setmetatable({}, { __index = function(_, k) return k * 2 end })
  local acc = 0
  for i = 1, 200 do acc = acc + t[i] end
  say("acc", acc)
end
local counter = 0
local function inc() counter = counter + 1 return counter end
local co = coroutine.wrap(function() while true do coroutine.yield(inc()) end end)
for _ = 1, 5 do co() end
say("counter", counter, inc())
print(#log)
