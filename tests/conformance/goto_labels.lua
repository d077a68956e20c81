-- goto and labels
do
  local i = 1
  ::top::
  if i <= 3 then
    io.write(i, " ")
    i = i + 1
    goto top
  end
  print()
end
-- nested loops break-out
for i = 1, 3 do
  for j = 1, 3 do
    if i * j == 4 then goto out end
    io.write(i, "*", j, " ")
  end
end
::out::
print()
-- continue idiom
for i = 1, 10 do
  if i % 3 == 0 then goto continue end
  io.write(i, ",")
  ::continue::
end
print()
-- labels at end of block; local after label
do
  goto skip
  print("not printed")
  ::skip::
end
-- closures in goto-loop capture fresh locals
local fns = {}
do
  local k = 1
  ::again::
  local x = k * 10
  fns[#fns + 1] = function() return x end
  k = k + 1
  if k <= 3 then goto again end
end
print(fns[1](), fns[2](), fns[3]())
-- compile errors
print(load("goto nowhere"))
print(load("do ::a:: end goto a"))
print(load("::a:: ::a::"))
print(load("goto f; local x; ::f:: print(x)"))
-- jumping into scope of a label at block end is allowed
print(load("do goto f; local x; ::f:: end") ~= nil)
