import ConvKit
print("convkit: under construction")
