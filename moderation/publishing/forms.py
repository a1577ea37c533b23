"""The publication log's filter.
"""

import django_filters
from django import forms

from config.school.tenancy import people
from connectors.models import Channel
from moderation.models import PublishedPost


class PublishedPostFilter(django_filters.FilterSet):
    channel = django_filters.ModelChoiceFilter(queryset=lambda request: Channel.objects.all(), empty_label="All channels")
    person = django_filters.ModelChoiceFilter(
        # The school's own people only: another school's staff are not even named.
        queryset=lambda request: people().order_by("last_name", "username"),
        method="filter_person",
        label="Person (author, approver or publisher)",
        empty_label="Anyone",
    )
    published_from = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    published_to = django_filters.DateFilter(
        field_name="published_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = PublishedPost
        fields = ["channel", "person", "published_from", "published_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # People by the names the office knows them by, not their usernames.
        self.filters["person"].field.label_from_instance = lambda user: user.get_full_name() or user.username

    def filter_person(self, queryset, name, user):
        from django.db.models import Q

        return queryset.filter(Q(draft__author=user) | Q(approval__approver=user) | Q(published_by=user))
