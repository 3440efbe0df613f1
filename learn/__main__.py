from learn.cli import main

main()
