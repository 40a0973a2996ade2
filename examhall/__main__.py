from examhall.cli import main

main()
