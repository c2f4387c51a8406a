from .seed import main

main()
