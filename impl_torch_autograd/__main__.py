from .mlp import main

main()
