"""The bot side of each feature: parse a command, call the handlers, render the reply.

bot/routes.py registers them in order; handlers/ holds the use cases and never imports bot/.
"""
