"""All the work on pixels: reading photos and videos safely, finding and recognising faces,
following them through a video, reading words, blurring, and deriving the published copies.

No Django models here and nothing from the apps above: the gates and services call into this
package with pictures and numbers, and get pictures and numbers back. Settings can be overridden
in Django's settings under the same names (`pixels.config.setting`).
"""
