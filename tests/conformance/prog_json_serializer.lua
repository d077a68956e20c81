-- a small JSON-like serializer with sorted keys, and a parser for round trips
local function serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.14g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      local map = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t"}
      return map[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local items = {}
      for i = 1, #v do items[i] = serialize(v[i], indent) end
      return "[" .. table.concat(items, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local items = {}
    for _, k in ipairs(keys) do
      items[#items + 1] = indent .. "  " .. serialize(k) .. ": " .. serialize(v[k], indent .. "  ")
    end
    return "{\n" .. table.concat(items, ",\n") .. "\n" .. indent .. "}"
  end
  error("cannot serialize " .. t)
end
local data = {
  name = "Understudy",
  version = 5.4,
  tags = {"lua", "rust", "vm"},
  nested = {a = 1, b = {true, false}, c = "quote\" and \\ and\nnewline"},
  empty = {},
  count = 42,
}
print(serialize(data))
print(pcall(serialize, {f = print}))
-- tiny parser for arrays of numbers and strings
local function parse_array(s)
  local out = {}
  for item in s:gmatch("[^,%[%]]+") do
    item = item:match("^%s*(.-)%s*$")
    local str = item:match('^"(.*)"$')
    out[#out + 1] = str or tonumber(item)
  end
  return out
end
local arr = parse_array('[1, 2.5, "three", 4]')
print(#arr, arr[1], arr[2], arr[3], arr[4], serialize(arr))
