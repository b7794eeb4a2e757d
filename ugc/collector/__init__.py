"""ugc.collector"""
