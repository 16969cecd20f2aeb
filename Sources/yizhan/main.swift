print("yizhan")
