-- compile errors reported by load (message text only, never raised)
local cases = {
  "x = = 1",
  "local 1 = 2",
  "x = 'unfinished",
  "x = \"also unfinished\nnext line\"",
  "x = [[never closed",
  "--[[ unfinished comment",
  "f(",
  "x = }",
  "local t = {1, 2",
  "if x then",
  "function f()\n  return 1\n",
  "for i = 1 do end",
  "for i in do end",
  "while true do",
  "repeat x = 1",
  "x y",
  "return return",
  "goto x",
  "do local a <const> = 1; a = 2 end",
  "local c <const> = 1; function g() c = 2 end",
  "break",
  "::l:: ::l::",
  "x = 1 +",
  "a.b:c = 1",
  "(x) = 1",
  "x = 0x",
  "x = 1e",
  "x = 3..4",
  "x = '\\400'",
  "x = #",
  "local function() end",
  "return 1,",
  "x = {[1] 2}",
  "f() = 1",
  "local a, b =",
  "x = a..",
  "elseif",
  "x = 1 end",
  "for a.b = 1, 2 do end",
  "local x <close> = nil; local y <close> = nil; x = 1",
  "\"\\u{zz}\"",
  "@",
  "x = ~= 1",
}
for i, src in ipairs(cases) do
  local f, msg = load(src, "=src")
  print(i, f, msg)
end
-- line numbers in multi-line chunks
print(load("local x = 1\nlocal y = 2\nlocal z = = 3", "=lines"))
print(load("function f()\n  if x then\n    y = 1\n  -- missing end\nend", "=nested"))
-- very long lines are abbreviated in the near part
print(load("x = " .. string.rep("a", 50) .. " +", "=long"))
