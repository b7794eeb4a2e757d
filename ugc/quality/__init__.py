"""ugc.quality"""
