"""ugc.traffic"""
