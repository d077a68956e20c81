-- identifiers, keywords used as string keys, case sensitivity
local _ = 1
local _private, CamelCase, snake_case_2, x1y2 = 1, 2, 3, 4
print(_, _private, CamelCase, snake_case_2, x1y2)
local And, END, Nil = "and", "END", "Nil"
print(And, END, Nil)
local t = {["end"] = 1, ["and"] = 2, ["function"] = 3, ["goto"] = 4}
print(t["end"], t["and"], t["function"], t["goto"])
print(load("local end = 1"))
print(load("t.end = 1"))
print(load("goto = 1"))
print(load("local x\195\169 = 1"))
local keywords = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
  "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}
local bad = 0
for _, kw in ipairs(keywords) do if not load("local " .. kw .. " = 1") then bad = bad + 1 end end
print(#keywords, bad)
-- names that look like keywords are fine
local function ifx() return "ifx" end
local endx, nilly, true_ = "endx", "nilly", "true_"
print(ifx(), endx, nilly, true_)
-- long identifier
local a_very_long_identifier_name_that_keeps_going_and_going_for_a_while = 42
print(a_very_long_identifier_name_that_keeps_going_and_going_for_a_while)
-- whitespace variety between tokens
print(load("return\t1\v+\f2\r\n")())
