# CLIPSelf ("proposals" mode) on the synthetic world: RPN-style proposals of the world
# (area-filtered, at most 20 per image, teacher crops expanded 1.5x).
_base_ = ['./clipself_patches_synthetic.py']

model = dict(views=dict(_delete_=True, type='ProposalBoxes', max_num=20, min_area=6 ** 2, max_area=96 ** 2,
                        crop_expand=1.5))
