-- os.exit flushes buffered output and ends the program with the given status
io.write("written before exit ")
print("line before exit")
io.stdout:write("no newline at the end")
os.exit(true)
print("never printed")
