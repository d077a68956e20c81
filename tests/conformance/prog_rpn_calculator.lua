-- RPN calculator and a recursive-descent infix expression evaluator
local function rpn(expr)
  local stack = {}
  local ops = {
    ["+"] = function(a, b) return a + b end, ["-"] = function(a, b) return a - b end,
    ["*"] = function(a, b) return a * b end, ["/"] = function(a, b) return a / b end,
    ["^"] = function(a, b) return a ^ b end, ["%"] = function(a, b) return a % b end,
  }
  for tok in expr:gmatch("%S+") do
    if ops[tok] then
      local b, a = table.remove(stack), table.remove(stack)
      if a == nil or b == nil then error("stack underflow at '" .. tok .. "'", 0) end
      stack[#stack + 1] = ops[tok](a, b)
    else
      stack[#stack + 1] = tonumber(tok) or error("bad token '" .. tok .. "'", 0)
    end
  end
  return table.unpack(stack)
end
print(rpn("3 4 +"), rpn("5 1 2 + 4 * + 3 -"), rpn("2 3 ^"), rpn("7 2 /"), rpn("7 2 %"), rpn("1 2 3"))
print(pcall(rpn, "1 +"))
print(pcall(rpn, "1 x +"))
-- infix: expr := term {(+|-) term}; term := factor {(*|/) factor}; factor := number | (expr) | -factor
local function evaluate(s)
  local pos = 1
  local function peek() return s:match("^%s*(.)", pos) end
  local function take() local c; c, pos = s:match("^%s*(.)()", pos); return c end
  local expr
  local function factor()
    local c = peek()
    if c == "(" then take(); local v = expr(); assert(take() == ")", "expected )"); return v end
    if c == "-" then take(); return -factor() end
    local num, np = s:match("^%s*(%d+%.?%d*)()", pos)
    if not num then error("unexpected " .. tostring(c), 0) end
    pos = np
    return tonumber(num)
  end
  local function term()
    local v = factor()
    while peek() == "*" or peek() == "/" do
      if take() == "*" then v = v * factor() else v = v / factor() end
    end
    return v
  end
  function expr()
    local v = term()
    while peek() == "+" or peek() == "-" do
      if take() == "+" then v = v + term() else v = v - term() end
    end
    return v
  end
  local v = expr()
  if peek() then error("trailing input", 0) end
  return v
end
print(evaluate("1 + 2 * 3"), evaluate("(1 + 2) * 3"), evaluate("-(4 - 6) * 2.5"), evaluate("10 / 4"), evaluate("2 * (3 + (4 - 1)) - -1"))
print(pcall(evaluate, "1 +"))
print(pcall(evaluate, "1 2"))
